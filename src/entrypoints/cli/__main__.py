from entrypoints.cli import app

app()
