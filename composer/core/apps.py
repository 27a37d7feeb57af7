from django.apps import AppConfig


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "composer.core"
    label = "core"

    def ready(self):
        # The block and task registries are plain Python (no torch, tests/foundation/test_web_torch_free.py):
        # each process loads them as it starts, so no request pays for it (GET /api/blocks/ is the editor's first).
        from blocks.registry import all_blocks
        from workers.tasks import all_tasks

        all_blocks()
        all_tasks()
