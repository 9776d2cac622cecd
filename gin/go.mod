module github.com/asymjwt/asymjwt/gin

go 1.26.0

require github.com/asymjwt/asymjwt/core v0.0.0

replace github.com/asymjwt/asymjwt/core => ../core
