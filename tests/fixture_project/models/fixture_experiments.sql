select * from read_parquet('{{ var("fixture_dir") }}/experiments.parquet')
