import factory
from django.contrib.auth import get_user_model

from goals.models import Goal, GoalType, ValueCategory


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["clerk_user_id"]

    clerk_user_id = factory.Sequence(lambda n: f"user_test{n:04d}")
    username = factory.SelfAttribute("clerk_user_id")
    email = factory.LazyAttribute(lambda user: f"{user.clerk_user_id}@example.com")
    password = factory.django.Password(None)


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Goal

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Goal number {n}")
    description = factory.Faker("sentence")
    goal_type = GoalType.CONCRETE
    value_category = ValueCategory.GROWTH
    target_date = None
