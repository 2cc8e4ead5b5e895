"""Data subject requests (GDPR): the export of a person's data (Art. 15/20) and their erasure (Art. 17).

accounts cannot import the apps above it, yet a person's data lives in all of them: each app registers its part
of the export and of the erasure from its AppConfig.ready() (`registry.register`), the way apps register
retention classes with audit. `data_map` is the one table of what is kept, why, for whom and for how long.
"""
