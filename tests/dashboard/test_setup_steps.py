"""A connector's setup steps on the connect-link page (dashboard/setup_steps.py): a tiny Markdown
subset, with every character of the file escaped first."""

from dashboard.setup_steps import render, setup_section, setup_steps

DOC = """# Some system (`some`)

Intro that is not shown.

## Setting up Some system

1. *Users*: create a **read-only** user with `Basic` auth
   on the [admin page](https://example.com/admin).
2. Grant <script>alert("x")</script> nothing else:
   - `A`;
   - `B`, on
     two lines.

   A paragraph between steps.
3. Done.

- one
- two

| a | b |
|---|---|

## Fields

Not shown either.
"""


def test_it_takes_only_the_setting_up_section():
    section = setup_section(DOC)
    assert section.startswith("1. *Users*") and "Intro" not in section and "Not shown" not in section


def test_it_renders_lists_emphasis_and_code_and_escapes_everything_else():
    html = render(setup_section(DOC))
    assert ("<ol><li><em>Users</em>: create a <strong>read-only</strong> user with <code>Basic</code> auth "
            "on the admin page.</li>") in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html and "<script>" not in html
    assert "nothing else:<ul><li><code>A</code>;</li><li><code>B</code>, on two lines.</li></ul></li></ol>" in html
    assert '<ol start="3"><li>Done.</li></ol>' in html
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert "<pre>| a | b |\n|---|---|</pre>" in html
    assert "https://example.com" not in html  # a link keeps its text only


def test_it_shows_nothing_for_a_connector_without_a_doc_or_a_bad_key():
    assert setup_steps("sandbox") == "" and setup_steps("../../etc/passwd") == ""
    assert "<ol>" in setup_steps("maximo")
