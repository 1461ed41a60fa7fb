from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GoalsConfig(AppConfig):
    name = "goals"
    verbose_name = "Goals"

    def ready(self) -> None:
        from goals.limits import _after_migrate

        post_migrate.connect(_after_migrate, sender=self)
