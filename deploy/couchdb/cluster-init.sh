#!/bin/sh
# One-shot: join the three CouchDB nodes into one cluster (infra.md §9), then exit 0.
# Idempotent: a finished cluster is left alone.
set -eu
U="$COUCHDB_USER"; P="$COUCHDB_PASSWORD"
FIRST="http://$U:$P@couchdb1:5984"
for node in couchdb1 couchdb2 couchdb3; do
  until curl -fsS "http://$node:5984/_up" >/dev/null; do sleep 1; done
done
if curl -fsS "$FIRST/_cluster_setup" | grep -q cluster_finished; then
  echo "cluster already set up"; exit 0
fi
post() { curl -fsS -X POST -H 'Content-Type: application/json' "$FIRST/_cluster_setup" -d "$1"; echo; }
post "{\"action\":\"enable_cluster\",\"bind_address\":\"0.0.0.0\",\"username\":\"$U\",\"password\":\"$P\",\"node_count\":\"3\"}"
for node in couchdb2 couchdb3; do
  post "{\"action\":\"enable_cluster\",\"bind_address\":\"0.0.0.0\",\"username\":\"$U\",\"password\":\"$P\",\"port\":5984,\"node_count\":\"3\",\"remote_node\":\"$node\",\"remote_current_user\":\"$U\",\"remote_current_password\":\"$P\"}"
  post "{\"action\":\"add_node\",\"host\":\"$node\",\"port\":5984,\"username\":\"$U\",\"password\":\"$P\"}"
done
post '{"action":"finish_cluster"}'
curl -fsS "$FIRST/_cluster_setup" | grep -q cluster_finished
curl -fsS "$FIRST/_membership"
