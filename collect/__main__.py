from collect.cli import entry

entry()
