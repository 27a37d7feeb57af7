"""H3's defaults became the paper's (heads 0 = head_dim 1, d_state 64; issue 14): stored specs that
left them out get the old ones (heads 8, d_state 16) written in, so they build the same model."""
from django.db import migrations

from composer.graphs.old_defaults import fill_stored_specs

OLD_DEFAULTS = {"h3": {"heads": 8, "d_state": 16}}  # frozen: the defaults before issue 14


def fill_old_defaults(apps, schema_editor):
    fill_stored_specs(apps, OLD_DEFAULTS)


class Migration(migrations.Migration):

    dependencies = [
        ("graphs", "0002_graph_search_text_and_template_slug"),
        ("runs", "0003_run_card"),
        ("cards", "0001_initial"),
    ]

    operations = [migrations.RunPython(fill_old_defaults, migrations.RunPython.noop)]
