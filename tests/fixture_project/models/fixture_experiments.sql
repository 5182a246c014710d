select * from read_parquet('{{ env_var("HTE_FIXTURE_DIR") }}/experiments.parquet')
