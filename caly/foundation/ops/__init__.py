"""Operations: the database doctor, backups and restores, and the periodic job scheduler."""
