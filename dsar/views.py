"""Public pages of the request desk: the one-time download of an access archive."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from audit.actors import Actor, client_ip
from dsar import archive as archives
from dsar.services import archive_download


@require_http_methods(["GET", "POST"])
def download(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners that follow links do not use up the download);
    POST hands the archive out once (streamed), then it is destroyed."""
    try:
        found = archives.archive_for_token(token)
    except archives.ArchiveGone:
        return render(request, "dsar/download.html", {"gone": True}, status=410)
    if request.method == "GET":
        return render(request, "dsar/download.html", {"archive": found})
    try:
        chunks, dsr = archive_download(
            token=token,
            actor=Actor.public("requester", ip=client_ip(request)),
        )
    except archives.ArchiveGone:
        return render(request, "dsar/download.html", {"gone": True}, status=410)
    # Decrypted a chunk at a time as it is sent: memory does not grow with the archive.
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Length"] = str(found.size)
    response["Content-Disposition"] = f'attachment; filename="{dsr.reference}.zip"'
    response["Cache-Control"] = "no-store"
    return response
