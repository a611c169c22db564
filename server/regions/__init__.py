"""GB/T 2260 regions as new input must name them: only codes in the current table (server/web/static/regions.json).

Passes, crossings and bundles keep accepting any well-formed code (passcore.ids.validate_region): old passes and
other bureaus' passes may carry codes since renamed or merged. Only what someone types now must exist.
"""
