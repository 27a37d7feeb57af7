"""``manage.py stamp_reference_cards BENCH_JSON OUT``: make bench/report_card.py's cards shippable.

Checks each card of BENCH_JSON (``bench/report_card.py --json``) against the example as it is
now and writes it with ``card_hash`` and ``plan_digest`` to OUT (normally
``examples/reference-cards/<suite>-<budget>-s<seeds>.json``), which ``manage.py load_examples``
then loads as the examples' report cards (``composer.cards.reference``).
"""
from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from composer.cards.reference import ReferenceCardsInvalid, stamp


class Command(BaseCommand):
    help = "Check bench/report_card.py --json output against the examples and write it stamped for examples/reference-cards/."

    def add_arguments(self, parser):
        parser.add_argument("bench_json")
        parser.add_argument("out")
        parser.add_argument("--examples", default=str(Path(settings.BASE_DIR) / "examples"))

    def handle(self, *args, **options):
        try:
            stamped = stamp(json.loads(Path(options["bench_json"]).read_text()), Path(options["examples"]))
        except (OSError, json.JSONDecodeError, ReferenceCardsInvalid) as error:
            raise CommandError(str(error)) from None
        Path(options["out"]).write_text(json.dumps(stamped, indent=1, sort_keys=True) + "\n")
        self.stdout.write(f"stamped {len(stamped)} card(s): {', '.join(stamped)} -> {options['out']}")
