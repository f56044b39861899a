from dcgan_cli.cli import run

run()
