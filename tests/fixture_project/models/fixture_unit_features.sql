select * from read_parquet('{{ env_var("HTE_FIXTURE_DIR") }}/unit_features.parquet')
