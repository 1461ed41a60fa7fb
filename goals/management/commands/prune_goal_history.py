from django.core.management.base import BaseCommand, CommandError

from goals.history import prune


class Command(BaseCommand):
    help = (
        "Delete goal events older than --older-than-days that changed neither a goal's status "
        "nor created it (a goal's history keeps its creation and every status change, what "
        "insights read), a batch at a time. There is no retention by default: run it only to "
        "cap the history."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, required=True)

    def handle(self, *args, older_than_days: int, **options):
        if older_than_days < 1:
            raise CommandError("--older-than-days must be 1 or more.")
        self.stdout.write(f"Deleted {prune(older_than_days=older_than_days)} goal events.")
