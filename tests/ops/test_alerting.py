"""Alerts reach people: a failing task and DAG run, and an overdue run, through real channels.

A tiny DAG (one task that raises) runs through ``dag.test()`` with the webhook pointed at a local
HTTP receiver and email at a local SMTP sink; the deadline callback goes through Airflow's own
``Deadline.handle_miss`` and ``CallbackTrigger`` (what the scheduler and triggerer do).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest

from pipeline_core import alerting
from tests.ops.receivers import email_text, smtp_sink, webhook_receiver

ERROR = "sensor feed exploded: boom-42"
TO = "oncall@example.com"


def _probe_dag():
    from airflow.sdk import DeadlineReference, dag, task

    @dag(
        dag_id="alerting_probe",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        default_args={"retries": 0, "on_failure_callback": alerting.failure_callbacks()},
        on_failure_callback=alerting.dag_failure_callbacks(),
        # Logical date + 0: already overdue when created, so the test can fire it at once.
        deadline=alerting.deadline_alert(
            timedelta(0), reference=DeadlineReference.DAGRUN_LOGICAL_DATE
        ),
    )
    def alerting_probe():
        @task(task_id="explode")
        def explode() -> None:
            raise RuntimeError(ERROR)

        explode()

    return alerting_probe()


def _serialize(dag) -> None:
    """dag.test() runs only DAGs Airflow has serialized; this one lives outside dags/."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


@pytest.fixture(scope="module")
def failed_run(airflow_db):
    """One failed run of the probe DAG with webhook and email (via an SMTP connection) set."""
    with webhook_receiver() as (url, hooks), smtp_sink() as (port, mails):
        with pytest.MonkeyPatch.context() as mp:
            # A failed run does not hit apache/airflow#73428, so the deadline may stay on here.
            mp.delenv(alerting.ENV_DEADLINE_MINUTES, raising=False)
            mp.setenv(alerting.ENV_WEBHOOK_URL, url)
            mp.setenv(alerting.ENV_EMAIL_TO, TO)
            mp.setenv(alerting.ENV_SMTP_CONN_ID, "fleet_alert_smtp")
            mp.setenv(
                "AIRFLOW_CONN_FLEET_ALERT_SMTP",
                json.dumps(
                    {
                        "conn_type": "smtp",
                        "host": "127.0.0.1",
                        "port": port,
                        "extra": {
                            "disable_ssl": True,
                            "disable_tls": True,
                            "from_email": "airflow@fleet.test",
                            "timeout": 10,
                            "retry_limit": 0,
                        },
                    }
                ),
            )
            dag = _probe_dag()
            _serialize(dag)
            run = dag.test()
            yield {"run": run, "hooks": hooks, "mails": mails, "url": url}


def _event(name):
    return lambda item: item["json"]["event"] == name


def test_task_failure_posts_json_naming_task_run_try_error_and_log(failed_run):
    run, hooks = failed_run["run"], failed_run["hooks"]
    assert run.state == "failed"

    got = hooks.wait_for(_event(alerting.TASK_FAILED))
    assert got["content_type"] == "application/json"
    alert = got["json"]
    assert alert["dag_id"] == "alerting_probe"
    assert alert["task_id"] == "explode"
    assert alert["run_id"] == run.run_id
    assert alert["try_number"] == 1
    assert alert["exception"] == f"RuntimeError: {ERROR}"
    assert "/dags/alerting_probe/runs/" in alert["log_url"] and "/tasks/explode" in alert["log_url"]
    for fragment in ("explode", run.run_id, ERROR, "Try: 1 of 1", alert["log_url"]):
        assert fragment in alert["text"]


def test_dag_run_failure_posts_its_own_alert(failed_run):
    alert = failed_run["hooks"].wait_for(_event(alerting.DAG_RUN_FAILED))["json"]
    assert alert["dag_id"] == "alerting_probe"
    assert alert["run_id"] == failed_run["run"].run_id
    assert alert["reason"] == "task_failure"
    assert alert["task_id"] == "explode"  # the task that failed the run


def test_task_failure_emails_through_the_airflow_smtp_connection(failed_run):
    mail = failed_run["mails"].wait_for(lambda m: "explode" in m["message"]["Subject"])
    assert mail["to"] == [TO]
    message = mail["message"]
    assert message["From"] == "airflow@fleet.test"
    assert failed_run["run"].run_id in message["Subject"]
    body = email_text(message)
    assert ERROR in body and "explode" in body and "/tasks/explode" in body


def test_overdue_run_alert_goes_through_deadline_miss_and_callback_trigger(failed_run):
    """What the scheduler (handle_miss) and the triggerer (CallbackTrigger) do, in-process."""
    from airflow.models.dagrun import DagRun
    from airflow.models.deadline import Deadline
    from airflow.triggers.callback import CallbackTrigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run_id = failed_run["run"].run_id
    with create_session() as session:
        dagrun = session.scalars(
            select(DagRun).where(DagRun.dag_id == "alerting_probe", DagRun.run_id == run_id)
        ).one()
        # A failed run keeps its deadline (only success prunes it).
        deadline = session.scalars(select(Deadline).where(Deadline.dagrun_id == dagrun.id)).one()
        deadline.handle_miss(session)
        data = dict(deadline.callback.data)
    assert data["path"] == "pipeline_core.alerting.FleetAlertNotifier"

    async def run_trigger():
        trigger = CallbackTrigger(callback_path=data["path"], callback_kwargs=data["kwargs"])
        return [event.payload async for event in trigger.run()]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(alerting.ENV_WEBHOOK_URL, failed_run["url"])
        mp.delenv(alerting.ENV_EMAIL_TO, raising=False)
        payloads = asyncio.run(run_trigger())
    assert payloads[-1]["state"] == "success", payloads

    alert = failed_run["hooks"].wait_for(_event(alerting.DEADLINE_MISSED))["json"]
    assert alert["dag_id"] == "alerting_probe"
    assert alert["run_id"] == run_id
    assert alert["deadline_time"]
    assert alert["log_url"].endswith(f"/dags/alerting_probe/runs/{quote(run_id, safe='')}")


# ----------------------------------------------------------------------------- no Airflow run


def _alert() -> alerting.Alert:
    return alerting.Alert(
        event=alerting.TASK_FAILED,
        dag_id="main_dag",
        task_id="raw_load",
        run_id="scheduled__2026-01-01T00:00:00+00:00",
        try_number=3,
        max_tries=2,
        exception="ValueError: <bad> & worse",
        log_url="http://airflow.example/dags/main_dag/runs/x/tasks/raw_load?try_number=3",
    )


def test_email_via_airflow_smtp_settings_when_no_connection(monkeypatch):
    with smtp_sink() as (port, mails):
        monkeypatch.setenv("AIRFLOW__SMTP__SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("AIRFLOW__SMTP__SMTP_PORT", str(port))
        monkeypatch.setenv("AIRFLOW__SMTP__SMTP_STARTTLS", "False")
        monkeypatch.setenv("AIRFLOW__SMTP__SMTP_MAIL_FROM", "fleet@example.com")
        config = alerting.AlertConfig(
            webhook_url=None,
            email_to=("a@example.com", "b@example.com"),
            email_from=None,
            smtp_conn_id="no_such_smtp_connection",
        )
        assert alerting.deliver(_alert(), config) == ["email"]
        mail = mails.wait_for(lambda m: True)
    assert mail["to"] == ["a@example.com", "b@example.com"]
    message = mail["message"]
    assert message["From"] == "fleet@example.com"
    assert message["Subject"] == _alert().title
    html_part = message.get_body(("html",)).get_content()
    assert "&lt;bad&gt; &amp; worse" in html_part  # exception text is escaped
    plain = message.get_body(("plain",)).get_content()
    assert "Try: 3 of 3" in plain and "raw_load" in plain


def test_nothing_configured_is_a_quiet_no_op():
    config = alerting.AlertConfig.from_env({})
    assert not config.enabled
    assert alerting.deliver(_alert(), config) == []


def test_webhook_error_raises_naming_the_host_but_not_the_secret():
    with webhook_receiver(status=404) as (url, _):
        config = alerting.AlertConfig.from_env({alerting.ENV_WEBHOOK_URL: url})
        with pytest.raises(alerting.AlertDeliveryError, match="HTTP 404") as err:
            alerting.deliver(_alert(), config)
    assert "127.0.0.1" in str(err.value) and "secret" not in str(err.value)


def test_config_rejects_non_http_urls_and_bad_deadlines():
    with pytest.raises(ValueError, match=alerting.ENV_WEBHOOK_URL):
        alerting.AlertConfig.from_env({alerting.ENV_WEBHOOK_URL: "file:///etc/passwd"})
    with pytest.raises(ValueError, match="http"):  # the sender checks the scheme too
        alerting.send_webhook("file:///etc/passwd", _alert())
    with pytest.raises(ValueError, match=alerting.ENV_DEADLINE_MINUTES):
        alerting.deadline_minutes({alerting.ENV_DEADLINE_MINUTES: "soon"})
    assert alerting.deadline_minutes({alerting.ENV_DEADLINE_MINUTES: "0"}) == 0
    assert alerting.AlertConfig.from_env({alerting.ENV_EMAIL_TO: "a@x; b@x ,"}).email_to == (
        "a@x",
        "b@x",
    )


def test_helpers_are_valid_airflow_objects(monkeypatch):
    from airflow.sdk import AsyncCallback, BaseNotifier, DeadlineAlert, DeadlineReference

    monkeypatch.delenv(alerting.ENV_DEADLINE_MINUTES, raising=False)

    assert all(isinstance(n, BaseNotifier) for n in alerting.failure_callbacks())
    assert all(isinstance(n, BaseNotifier) for n in alerting.dag_failure_callbacks())
    deadline = alerting.deadline_alert()
    assert isinstance(deadline, DeadlineAlert)
    assert deadline.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert deadline.interval == timedelta(minutes=alerting.DEFAULT_DEADLINE_MINUTES)
    assert isinstance(deadline.callback, AsyncCallback)
    assert deadline.callback.kwargs == {"event": alerting.DEADLINE_MISSED}
    monkeypatch.setenv(alerting.ENV_DEADLINE_MINUTES, "0")
    assert alerting.deadline_alert() is None
    assert alerting.deadline_alert(timedelta(hours=4)) is None
