module mcvtest/gotmpl

go 1.19
