from django.urls import path

from . import views

urlpatterns = [
    path("session/", views.SessionView.as_view(), name="session"),
    path("auth/signup/", views.SignUpView.as_view(), name="signup"),
    path("auth/signin/", views.SignInView.as_view(), name="signin"),
    path("auth/signout/", views.SignOutView.as_view(), name="signout"),
    path("auth/password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("auth/password-reset/confirm/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("account/", views.AccountView.as_view(), name="account"),
]
