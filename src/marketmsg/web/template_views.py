"""Templates (定型文): a shop's saved texts, and the picker that inserts one into a message."""

from __future__ import annotations

from django.contrib import messages as notices
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketmsg.conversations import placeholders, templating
from marketmsg.conversations.errors import FormProblem
from marketmsg.conversations.models import Template
from marketmsg.web import access
from marketmsg.web.access import seller_only


def _template(request: HttpRequest, template_id: int) -> Template:
    found = Template.objects.filter(pk=template_id, account=access.seller_account(request)).first()
    if found is None:
        raise Http404("No such template.")
    return found


@seller_only
def template_list(request: HttpRequest) -> HttpResponse:
    """All of the shop's templates, and the form for a new one."""
    account = access.seller_account(request)
    problem: FormProblem | None = None
    if request.method == "POST":
        try:
            templating.save(
                account, access.user_of(request), request.POST.get("name", ""), request.POST.get("text", "")
            )
        except FormProblem as error:
            problem = error
        else:
            notices.success(request, _("The template was saved."))
            return redirect("templates")
    return render(
        request,
        "web/templates.html",
        {
            "templates": Template.objects.filter(account=account).order_by("name"),
            "problem": problem,
            "name": request.POST.get("name", ""),
            "text": request.POST.get("text", ""),
            "known": placeholders.KNOWN,
        },
    )


@seller_only
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    template = _template(request, template_id)
    problem: FormProblem | None = None
    if request.method == "POST":
        try:
            templating.save(
                template.account,
                access.user_of(request),
                request.POST.get("name", ""),
                request.POST.get("text", ""),
                template,
            )
        except FormProblem as error:
            problem = error
            template.refresh_from_db()
        else:
            notices.success(request, _("The template was saved."))
            return redirect("templates")
    return render(
        request,
        "web/template_edit.html",
        {
            "template": template,
            "problem": problem,
            "name": request.POST.get("name", template.name),
            "text": request.POST.get("text", template.text),
            "known": placeholders.KNOWN,
        },
    )


@seller_only
@require_POST
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    template = _template(request, template_id)
    template.delete()
    notices.success(request, _("The template “%(name)s” was deleted.") % {"name": template.name})
    return redirect("templates")


@seller_only
def template_insert(request: HttpRequest) -> HttpResponse:
    """For the picker (htmx): the message box with the chosen template filled in and appended."""
    text = request.GET.get("text", "")
    chosen = request.GET.get("template", "")
    problem: FormProblem | None = None
    if chosen.isdigit():
        template = _template(request, int(chosen))
        problem = templating.unknown_placeholder_problem(template.text)
        if problem is None:
            account = access.seller_account(request)
            if request.GET.get("conversation", "").isdigit():
                found = access.seller_conversation(request, int(request.GET["conversation"]))
                values = templating.values_for(account, conversation=found)
            else:
                order = access.seller_order(request, request.GET.get("order", ""))
                values = templating.values_for(account, order=order)
            filled = placeholders.fill(template.text, values)
            text = f"{text.rstrip()}\n\n{filled}" if text.strip() else filled
    return render(
        request, "web/_message_box.html", {"text": text, "problem": problem, "guideline_check": True}
    )
