module github.com/lakeplane/lakeplane

go 1.26
