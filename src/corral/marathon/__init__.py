"""Marathon: long-running apps that stay up (marathon.md). Pure modules decide; `runtime.py` does the I/O.

The app definition: `model.AppDefinition` (`from_json`, `to_json`, `apply_patch`, `rollback_version`),
decoded by `decoding.py` -> `normalization.py` -> `validation.py` into a canonical, valid value, or a
`errors.ValidationError` whose `body()` is upstream's 422. Ids are `paths.PathId`.
"""
