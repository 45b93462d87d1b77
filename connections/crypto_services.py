from django.db import transaction

from connections.crypto import encrypted_fields


def encryption_rotate(*, batch_size: int = 500) -> dict[str, int]:
    """Rewrites every encrypted column under the first key; returns the count per model.field.

    Reading decrypts with whichever key matches and writing encrypts with the first, so after
    this the older keys can be dropped from FIELD_ENCRYPTION_KEYS.
    """
    counts = {}
    for model, column in encrypted_fields():
        label = f"{model._meta.label}.{column}"
        counts[label] = 0
        rows = model.objects.exclude(**{f"{column}__isnull": True}).values_list("pk", column)
        for pk, value in rows.iterator(chunk_size=batch_size):
            with transaction.atomic():
                model.objects.filter(pk=pk).update(**{column: value})
            counts[label] += 1
    return counts
