"""The selection worker (spec selection.md): answers route requests from cached, compiled resources."""
