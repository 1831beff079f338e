"""One module per `surge` command group, each exposing `register(subparsers)` and listed in
`surge.cli.COMMANDS`; `types` holds the argparse types they share."""
