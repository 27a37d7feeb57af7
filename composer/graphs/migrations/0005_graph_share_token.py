"""Graph.share_token: the unguessable secret of an unlisted graph's link (issue 13, point 6).
Every existing graph gets its own token before the column becomes unique."""
from django.db import migrations, models

import composer.graphs.models


def fill_tokens(apps, schema_editor):
    Graph = apps.get_model("graphs", "Graph")
    for graph in Graph.objects.filter(share_token__isnull=True).only("pk").iterator():
        Graph.objects.filter(pk=graph.pk).update(share_token=composer.graphs.models.new_share_token())


class Migration(migrations.Migration):
    dependencies = [("graphs", "0004_attention_old_defaults")]

    operations = [
        migrations.AddField(model_name="graph", name="share_token",
                            field=models.CharField(max_length=64, null=True, editable=False)),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(model_name="graph", name="share_token",
                              field=models.CharField(default=composer.graphs.models.new_share_token, editable=False,
                                                     max_length=64, unique=True)),
    ]
