"""``python -m cancerllm`` runs the CLI."""

from cancerllm.cli import main

main()
