module github.com/xalived/xalived

go 1.26.0
