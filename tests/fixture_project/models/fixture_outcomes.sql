select * from read_parquet('{{ var("fixture_dir") }}/outcomes.parquet')
