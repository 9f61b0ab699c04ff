"""Files the commands write for later jobs: dotenv reports and other output files."""
