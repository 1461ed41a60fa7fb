from django.core.management.base import BaseCommand

from goals.idempotency import prune_all


class Command(BaseCommand):
    help = "Delete every expired Idempotency-Key record (kept 24 hours; run it from cron daily)."

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {prune_all()} expired idempotency keys.")
