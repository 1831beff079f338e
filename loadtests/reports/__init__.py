"""What a run leaves: the summary (`summary`), the HTML report (`html`) and its plots."""
