#!/usr/bin/env bash
# airflow-init (one-shot, runs as root through the image's entrypoint, which has already
# waited for the metadata database): migrate Airflow's metadata DB, then hand the
# writable mounts to the Airflow user. Every other Airflow service starts only after
# this exits 0.
#
# Users: the stack uses Airflow 3's SimpleAuthManager, whose users live in configuration
# (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS), not in the database, so there is no
# `airflow users create` step: the admin's password is written from .env by
# start-api-server.sh when the API server starts.
set -euo pipefail

airflow_uid="${AIRFLOW_UID:-50000}"

echo "Airflow $(airflow version)"
airflow db migrate

writable=("${AIRFLOW_HOME:-/opt/airflow}/logs" "${FLEET_REPORTS_DIR:-/opt/airflow/reports}" "${FLEET_STATE_DIR:-/opt/airflow/fleet-state}")
mkdir -p "${writable[@]}"
if [[ "$(id -u)" == "0" ]]; then
    chown -R "${airflow_uid}:0" "${writable[@]}"
    chmod -R g+rwX "${writable[@]}"
fi
echo "airflow-init done: metadata DB migrated; ${writable[*]} writable by uid ${airflow_uid}"
