"""Create the demo login that ``composer up`` prints, once per database; print it."""
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "demo"


class Command(BaseCommand):
    help = "Ensure the demo user exists and print its login."

    def handle(self, *args, **options):
        password_file = settings.VAR_DIR / "demo-login.txt"
        User = get_user_model()
        user = User.objects.filter(username=USERNAME).first()
        if user is None or not password_file.exists():
            password = secrets.token_urlsafe(9)
            user = user or User(username=USERNAME, email="demo@localhost")
            user.set_password(password)
            user.save()
            password_file.write_text(password)
            password_file.chmod(0o600)
        self.stdout.write(f"login: {USERNAME} / {password_file.read_text().strip()}")
