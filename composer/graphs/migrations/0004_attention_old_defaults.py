"""Performer, Linformer, sliding-window and BigBird defaults now follow the papers as the model grows
(issue 14); stored specs that left them out get the old fixed defaults written in, so they build the
same model."""
from django.db import migrations

from composer.graphs.old_defaults import fill_stored_specs

OLD_DEFAULTS = {  # frozen: the defaults before issue 14
    "performer_attention": {"nb_features": 64},
    "linformer_attention": {"proj_len": 8},
    "sliding_window_attention": {"window": 8},
    "bigbird_attention": {"block_size": 8, "global_blocks": 1, "random_blocks": 1},
}


def fill_old_defaults(apps, schema_editor):
    fill_stored_specs(apps, OLD_DEFAULTS)


class Migration(migrations.Migration):

    dependencies = [("graphs", "0003_h3_old_defaults")]

    operations = [migrations.RunPython(fill_old_defaults, migrations.RunPython.noop)]
