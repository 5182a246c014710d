{{ hte_staged_unit_features() }}
