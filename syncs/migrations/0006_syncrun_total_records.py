from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("syncs", "0005_change_feed_leases_retries")]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="total_records",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
