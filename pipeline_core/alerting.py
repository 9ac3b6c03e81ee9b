"""Alerts to people: failed tasks, failed DAG runs and overdue main_dag runs.

Why: a scheduled pipeline that fails at 3 a.m. is only useful if someone hears about it. Alerts
go through Airflow's notifier mechanism (one ``BaseNotifier`` subclass) so the same object
serves as ``on_failure_callback`` of tasks and DAGs and, awaited by the triggerer, as the
callback of a ``DeadlineAlert``.

Configured by environment only, read when an alert is sent (so the process that sends it,
worker / DAG processor / triggerer, must have it); nothing configured means a logged no-op:

``FLEET_ALERT_WEBHOOK_URL``
    http(s) URL that receives a JSON POST per alert (``text`` is Slack/Mattermost compatible,
    the other keys are for machines).
``FLEET_ALERT_EMAIL_TO``
    comma/semicolon separated recipients. Sent through Airflow's SMTP connection
    (``FLEET_ALERT_SMTP_CONN_ID``, default ``[email] email_conn_id`` = ``smtp_default``) when it
    exists, else through Airflow's ``[smtp]`` settings (``AIRFLOW__SMTP__SMTP_HOST`` ...).
``FLEET_ALERT_EMAIL_FROM``
    sender (default: the connection's ``from_email``, ``[email] from_email``, then
    ``[smtp] smtp_mail_from``).
``FLEET_ALERT_DEADLINE_MINUTES``
    how long after being queued a main_dag run may take before the overdue alert (default 60;
    ``0`` turns deadline alerts off for every DAG, e.g. for ``dag.test()``: apache/airflow#73428).
"""

from __future__ import annotations

import asyncio
import html
import http.client
import json
import logging
import os
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote, urlsplit

from airflow.sdk import (
    AsyncCallback,
    BaseDeadlineReference,
    BaseNotifier,
    DeadlineAlert,
    DeadlineReference,
)
from airflow.sdk.exceptions import AirflowException

log = logging.getLogger(__name__)

ENV_WEBHOOK_URL = "FLEET_ALERT_WEBHOOK_URL"
ENV_EMAIL_TO = "FLEET_ALERT_EMAIL_TO"
ENV_EMAIL_FROM = "FLEET_ALERT_EMAIL_FROM"
ENV_SMTP_CONN_ID = "FLEET_ALERT_SMTP_CONN_ID"
ENV_DEADLINE_MINUTES = "FLEET_ALERT_DEADLINE_MINUTES"
DEFAULT_DEADLINE_MINUTES = 60

TASK_FAILED = "task_failed"
DAG_RUN_FAILED = "dag_run_failed"
DEADLINE_MISSED = "deadline_missed"
EVENTS = (TASK_FAILED, DAG_RUN_FAILED, DEADLINE_MISSED)

#: Bounded network waits: an alert must never hang a worker or the triggerer.
HTTP_TIMEOUT_S = 10.0
HTTP_ATTEMPTS = 3
SMTP_TIMEOUT_S = 30
#: Long tracebacks make unreadable alerts; the log URL has the rest.
MAX_EXCEPTION_CHARS = 2000

#: What may go wrong while delivering; anything else is a bug and propagates unchanged.
_DELIVERY_ERRORS = (OSError, http.client.HTTPException, smtplib.SMTPException, AirflowException)


class AlertDeliveryError(RuntimeError):
    """At least one configured channel could not deliver; the message names which and why."""


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AlertConfig:
    webhook_url: str | None
    email_to: tuple[str, ...]
    email_from: str | None
    smtp_conn_id: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertConfig:
        """Read the ``FLEET_ALERT_*`` variables; a malformed webhook URL raises (naming it)."""
        env = os.environ if environ is None else environ
        url = (env.get(ENV_WEBHOOK_URL) or "").strip() or None
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{ENV_WEBHOOK_URL} must be an http(s) URL, got {_redact(url)!r}")
        to = tuple(a for a in re.split(r"\s*[,;]\s*", env.get(ENV_EMAIL_TO) or "") if a.strip())
        return cls(
            webhook_url=url,
            email_to=to,
            email_from=(env.get(ENV_EMAIL_FROM) or "").strip() or None,
            smtp_conn_id=(env.get(ENV_SMTP_CONN_ID) or "").strip() or None,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.email_to)


def _redact(url: str) -> str:
    """Scheme and host only: webhook URLs often carry their secret in the path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/..." if parts.scheme else "<unparseable>"


# ----------------------------------------------------------------------------- the alert


@dataclass(frozen=True)
class Alert:
    """What happened, independent of the channel; every field may be unknown (None)."""

    event: str
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    try_number: int | None
    max_tries: int | None
    exception: str | None
    log_url: str | None
    reason: str | None = None
    deadline_time: str | None = None

    @property
    def title(self) -> str:
        if self.event == TASK_FAILED:
            return f"[fleet] task {self.dag_id}.{self.task_id} failed (run {self.run_id})"
        if self.event == DAG_RUN_FAILED:
            return f"[fleet] DAG run {self.dag_id} failed (run {self.run_id})"
        return f"[fleet] DAG run {self.dag_id} overdue (run {self.run_id})"

    def lines(self) -> list[tuple[str, str]]:
        """Label/value pairs of the known fields, in reading order."""
        tries = None
        if self.try_number is not None:
            tries = str(self.try_number)
            if self.max_tries is not None:
                tries += f" of {self.max_tries + 1}"
        pairs = [
            ("DAG", self.dag_id),
            ("Task", self.task_id),
            ("Run", self.run_id),
            ("Try", tries),
            ("Reason", self.reason),
            ("Deadline", self.deadline_time),
            ("Error", self.exception),
            ("Log", self.log_url),
        ]
        return [(label, value) for label, value in pairs if value]

    @property
    def text(self) -> str:
        return "\n".join([self.title, *(f"{label}: {value}" for label, value in self.lines())])

    def payload(self) -> dict[str, Any]:
        """The webhook body: ``text`` for chat tools, the fields for machines."""
        return {"text": self.text, "title": self.title, "source": "fleet-airflow", **asdict(self)}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _exception_text(exc: Any) -> str | None:
    if exc is None or exc == "":
        return None
    text = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)
    if len(text) > MAX_EXCEPTION_CHARS:
        text = text[:MAX_EXCEPTION_CHARS] + " ...(truncated)"
    return text


def _run_url(dag_id: str | None, run_id: str | None) -> str | None:
    """Airflow UI page of a run ([api] base_url), for alerts that have no task log."""
    if not dag_id or not run_id:
        return None
    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080/") or ""
    return f"{base.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def alert_from_context(event: str, context: Mapping[str, Any]) -> Alert:
    """Build the alert from whichever context Airflow passed (task, DAG or deadline callback)."""
    if event not in EVENTS:
        raise ValueError(f"unknown alert event {event!r}; expected one of {EVENTS}")
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_run = context.get("dag_run")

    dag_id = getattr(dag, "dag_id", None) or getattr(ti, "dag_id", None)
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    deadline_time = None
    if isinstance(dag_run, Mapping):  # deadline callbacks get the run as a JSON dict
        dag_id = dag_id or dag_run.get("dag_id")
        run_id = run_id or dag_run.get("dag_run_id") or dag_run.get("run_id")
    elif dag_run is not None:
        dag_id = dag_id or getattr(dag_run, "dag_id", None)
        run_id = run_id or getattr(dag_run, "run_id", None)
    deadline = context.get("deadline")
    if isinstance(deadline, Mapping):
        deadline_time = _str_or_none(deadline.get("deadline_time"))

    log_url = None
    if ti is not None and event != DEADLINE_MISSED:
        # RuntimeTaskInstance.log_url is a property built from [api] base_url.
        log_url = _str_or_none(getattr(ti, "log_url", None))
    log_url = log_url or _run_url(dag_id, run_id)

    try_number = getattr(ti, "try_number", None)
    max_tries = getattr(ti, "max_tries", None)
    return Alert(
        event=event,
        dag_id=_str_or_none(dag_id),
        task_id=_str_or_none(getattr(ti, "task_id", None)),
        run_id=_str_or_none(run_id),
        try_number=try_number if isinstance(try_number, int) else None,
        max_tries=max_tries if isinstance(max_tries, int) else None,
        exception=_exception_text(context.get("exception")),
        log_url=log_url,
        reason=_str_or_none(context.get("reason")),
        deadline_time=deadline_time,
    )


# ----------------------------------------------------------------------------- channels


def send_webhook(url: str, alert: Alert, *, timeout_s: float = HTTP_TIMEOUT_S) -> None:
    """POST the alert as JSON; retried on network errors and 5xx, raises naming the host."""
    if urlsplit(url).scheme not in ("http", "https"):  # urlopen would also read file:// URLs
        raise ValueError(f"webhook URL must be http(s), got {_redact(url)!r}")
    body = json.dumps(alert.payload(), default=str).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "fleet-alerting/1"},
    )
    for attempt in range(1, HTTP_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # nosec B310
                response.read()
            return
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == HTTP_ATTEMPTS:
                raise AlertDeliveryError(
                    f"webhook {_redact(url)} answered HTTP {exc.code} {exc.reason}"
                ) from exc
        except (OSError, http.client.HTTPException) as exc:
            if attempt == HTTP_ATTEMPTS:
                raise AlertDeliveryError(
                    f"webhook {_redact(url)} unreachable after {attempt} attempts: {exc}"
                ) from exc
        time.sleep(attempt)


def email_subject_and_html(alert: Alert) -> tuple[str, str]:
    """Subject and escaped HTML body (exception text may contain markup)."""
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th>"
        f"<td>{_html_value(label, value)}</td></tr>"
        for label, value in alert.lines()
    )
    body = f"<p>{html.escape(alert.title)}</p><table>{rows}</table>"
    return alert.title, body


def _html_value(label: str, value: str) -> str:
    if label == "Log":
        return f"<a href='{html.escape(value, quote=True)}'>{html.escape(value)}</a>"
    if label == "Error":
        return f"<pre>{html.escape(value)}</pre>"
    return html.escape(value)


def build_email(alert: Alert, *, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """A text + HTML message, for the ``[smtp]`` path (the connection path uses SmtpHook)."""
    subject, body = email_subject_and_html(alert)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="fleet-alerting")
    msg.set_content(alert.text)
    msg.add_alternative(body, subtype="html")
    return msg


def _smtp_connection_exists(conn_id: str) -> bool:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        Connection.get(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def send_email(config: AlertConfig, alert: Alert) -> None:
    """Send through Airflow's SMTP connection when it exists, else Airflow's [smtp] settings."""
    from airflow.sdk.configuration import conf

    conn_id = config.smtp_conn_id or conf.get("email", "email_conn_id", fallback="smtp_default")
    if _smtp_connection_exists(conn_id):
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        subject, body = email_subject_and_html(alert)
        with SmtpHook(smtp_conn_id=conn_id) as hook:
            sender = (
                config.email_from
                or hook.from_email
                or conf.get("email", "from_email", fallback=None)
                or conf.get("smtp", "smtp_mail_from", fallback=None)
            )
            hook.send_email_smtp(
                to=list(config.email_to), subject=subject, html_content=body, from_email=sender
            )
        return

    host = conf.get("smtp", "smtp_host", fallback=None)
    if not host:
        raise AlertDeliveryError(
            f"email: no SMTP connection {conn_id!r} and no [smtp] smtp_host configured"
        )
    port = conf.getint("smtp", "smtp_port", fallback=25)
    timeout = conf.getint("smtp", "smtp_timeout", fallback=SMTP_TIMEOUT_S)
    sender = (
        config.email_from
        or conf.get("email", "from_email", fallback=None)
        or conf.get("smtp", "smtp_mail_from", fallback=None)
        or "airflow@localhost"
    )
    msg = build_email(alert, sender=sender, to=config.email_to)
    context = ssl.create_default_context()
    if conf.getboolean("smtp", "smtp_ssl", fallback=False):
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if not isinstance(client, smtplib.SMTP_SSL) and conf.getboolean(
            "smtp", "smtp_starttls", fallback=True
        ):
            client.starttls(context=context)
        client.send_message(msg)


def deliver(alert: Alert, config: AlertConfig | None = None) -> list[str]:
    """Send ``alert`` to every configured channel; returns the channels used.

    Each channel is tried even if another fails, then one ``AlertDeliveryError`` names all
    failures (Airflow logs callback errors; it never fails the task because of them).
    """
    config = config or AlertConfig.from_env()
    if not config.enabled:
        log.info(
            "alert %s for %s/%s not sent: set %s and/or %s",
            alert.event,
            alert.dag_id,
            alert.run_id,
            ENV_WEBHOOK_URL,
            ENV_EMAIL_TO,
        )
        return []
    sent: list[str] = []
    failures: list[str] = []
    first_error: BaseException | None = None
    channels = []
    if config.webhook_url:
        channels.append(("webhook", lambda: send_webhook(config.webhook_url or "", alert)))
    if config.email_to:
        channels.append(("email", lambda: send_email(config, alert)))
    for name, send in channels:
        try:
            send()
        except _DELIVERY_ERRORS as exc:
            failures.append(f"{name}: {exc}")
            first_error = first_error or exc
        else:
            sent.append(name)
    if failures:
        raise AlertDeliveryError(
            f"alert {alert.event} for {alert.dag_id}/{alert.run_id} not delivered: "
            + "; ".join(failures)
        ) from first_error
    log.info("alert %s for %s/%s sent via %s", alert.event, alert.dag_id, alert.run_id, sent)
    return sent


# ----------------------------------------------------------------------------- Airflow glue


class FleetAlertNotifier(BaseNotifier):
    """Airflow notifier for the platform's alerts; ``event`` says which kind it reports.

    Sync (``notify``) for task/DAG callbacks; async (``async_notify``) when the triggerer runs it
    as a ``DeadlineAlert`` callback (``AsyncCallback(FleetAlertNotifier, kwargs=...)``: the
    triggerer instantiates the class with the kwargs plus ``context`` and awaits the instance).
    """

    template_fields = ()

    def __init__(self, event: str = TASK_FAILED, *, context: Any = None) -> None:
        super().__init__(context=context)
        if event not in EVENTS:
            raise ValueError(f"unknown alert event {event!r}; expected one of {EVENTS}")
        self.event = event

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing here is templated, so no Jinja environment is needed.

        Skipping matters: DAG-level callbacks under ``dag.test()`` pass a ``SerializedDAG`` as
        ``context["dag"]``, which has no ``get_template_env`` and would fail the base method.
        """

    def notify(self, context: Any) -> None:
        deliver(alert_from_context(self.event, context))

    async def async_notify(self, context: Any) -> None:
        # Blocking I/O off the triggerer's event loop.
        await asyncio.to_thread(self.notify, context)


def failure_callbacks() -> list[BaseNotifier]:
    """For ``DEFAULT_ARGS["on_failure_callback"]``: one alert per task that fails for good.

    Retries do not alert (``on_retry_callback`` is left alone); only the final failure does.
    """
    return [FleetAlertNotifier(TASK_FAILED)]


def dag_failure_callbacks() -> list[BaseNotifier]:
    """For ``@dag(on_failure_callback=...)``: one alert per failed run, with Airflow's reason."""
    return [FleetAlertNotifier(DAG_RUN_FAILED)]


def deadline_minutes(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = (env.get(ENV_DEADLINE_MINUTES) or "").strip()
    if not raw:
        return DEFAULT_DEADLINE_MINUTES
    try:
        minutes = int(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_DEADLINE_MINUTES}={raw!r} is not a whole number") from exc
    if minutes < 0:
        raise ValueError(f"{ENV_DEADLINE_MINUTES}={raw!r} must be >= 0")
    return minutes


def deadline_alert(
    interval: timedelta | None = None,
    *,
    reference: BaseDeadlineReference = DeadlineReference.DAGRUN_QUEUED_AT,
) -> DeadlineAlert | None:
    """For ``@dag(deadline=...)``: alert when a run has not succeeded ``interval`` after queueing.

    ``interval`` defaults to ``FLEET_ALERT_DEADLINE_MINUTES`` (60). That variable set to ``0``
    turns deadlines off for every DAG (returns None, which ``@dag`` accepts): needed under
    ``dag.test()``, which in Airflow 3.3.2 crashes after a *successful* run of a DAG with a
    deadline (apache/airflow#73428). Measured from queued-at so a run stuck behind a slow one
    counts as late data too. Airflow drops the deadline when the run succeeds; a failed run
    keeps it, so it is reported both as failed and, later, as overdue. The callback runs on
    the triggerer.
    """
    minutes = deadline_minutes()
    if minutes == 0:
        return None
    if interval is None:
        interval = timedelta(minutes=minutes)
    return DeadlineAlert(
        reference=reference,
        interval=interval,
        callback=AsyncCallback(FleetAlertNotifier, kwargs={"event": DEADLINE_MISSED}),
        name="fleet_run_overdue",
    )


def send_test_alert() -> list[str]:
    """Send a sample alert to the configured channels (``python -m pipeline_core.alerting``)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    alert = Alert(
        event=TASK_FAILED,
        dag_id="alerting_selftest",
        task_id="selftest",
        run_id=f"manual__{now}",
        try_number=1,
        max_tries=0,
        exception="RuntimeError: this is a test alert",
        log_url=None,
    )
    return deliver(alert)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(json.dumps({"sent_via": send_test_alert()}))
