"""Writes of accounts: sign up (with Django's password validators) and the API token of a user."""
from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

USERNAME_TAKEN = "That username is already taken."


@transaction.atomic
def user_create(*, username: str, password: str, email: str = ""):
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": USERNAME_TAKEN})
    user = User(username=username, email=email)
    password_validation.validate_password(password, user)  # raises ValidationError naming the problem
    user.set_password(password)
    user.full_clean()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent sign-up took the name between the check and the insert
        raise ValidationError({"username": USERNAME_TAKEN})
    return user


def user_token(*, user) -> str:
    """The user's API token for scripts and the CLI (created on first use)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
