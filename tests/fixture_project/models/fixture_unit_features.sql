select * from read_parquet('{{ var("fixture_dir") }}/unit_features.parquet')
