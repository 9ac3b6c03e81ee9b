#!/usr/bin/env bash
# airflow-apiserver: write the SimpleAuthManager password file from .env, then start the
# API server (UI, REST API /api/v2 and the task Execution API /execution/).
#
# SimpleAuthManager (Airflow 3's default auth manager) takes its users from
# [core] simple_auth_manager_users ("<name>:<role>") and their passwords from the JSON
# file [core] simple_auth_manager_passwords_file; a user missing from that file would get
# a random password printed to the log. Writing the file on every start keeps .env the
# one place where the admin password is set.
set -euo pipefail

: "${AIRFLOW_ADMIN_USERNAME:?set AIRFLOW_ADMIN_USERNAME in .env}"
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"

(
    umask 077
    python - <<'PY'
import json
import os

path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path + ".tmp", "w") as fh:
    json.dump({os.environ["AIRFLOW_ADMIN_USERNAME"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, fh)
os.replace(path + ".tmp", path)
PY
)
unset AIRFLOW_ADMIN_PASSWORD

exec airflow api-server "$@"
