package apiserver

import "k8s.io/apimachinery/pkg/util/validation/field"

type fieldErrorList = field.ErrorList

func fieldRequired(path, msg string) *field.Error {
	return field.Required(field.NewPath(path), msg)
}

func fieldInvalid(path string, value interface{}, msg string) *field.Error {
	return field.Invalid(field.NewPath(path), value, msg)
}

func fieldNotSupported(path string, value interface{}, valid []string) *field.Error {
	return field.NotSupported(field.NewPath(path), value, valid)
}
