"""The monthly executive report: built from the stored analytics snapshot, printed with
WeasyPrint, kept in an archive with its checksum."""
