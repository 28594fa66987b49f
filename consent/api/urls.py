from django.urls import path

from consent.api import public, views

app_name = "consent"
urlpatterns = [
    path("decision/", views.DecisionView.as_view(), name="decision"),
    path("decisions/bulk/", views.BulkDecisionView.as_view(), name="decisions-bulk"),
    path("records/", views.ConsentWriteView.as_view(), name="record-create"),
    path("records/<uuid:record_id>/receipt/", views.ReceiptView.as_view(), name="receipt"),
    path("subjects/<uuid:subject_id>/history/", views.SubjectHistoryView.as_view(), name="history"),
    path("tcf/decode/", views.TCStringView.as_view(), name="tcf-decode"),
    path("gpp/decode/", views.GPPStringView.as_view(), name="gpp-decode"),
    path("public/config/", public.BannerConfigView.as_view(), name="public-config"),
    path("public/consents/", public.BannerConsentView.as_view(), name="public-consents"),
    path("public/identify/", public.BannerIdentifyView.as_view(), name="public-identify"),
]
