"""One module per `surge` subcommand; each exposes `register(subparsers)`."""
