"""What the commands show and write: sizes for people, dotenv reports and other files."""
