from django.urls import path

from sso import api

app_name = "scim"
urlpatterns = [
    path("Users", api.UsersView.as_view(), name="users"),
    path("Users/<str:pk>", api.UserView.as_view(), name="user"),
    path("Groups", api.GroupsView.as_view(), name="groups"),
    path("Groups/<str:pk>", api.GroupView.as_view(), name="group"),
]
