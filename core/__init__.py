"""What every app needs and that owns no data: error classes, webhook signing, the request
parser and pagination rules, the list of regions, shared admin mixins. The bottom layer: it
imports no app (docs/architecture.md)."""
