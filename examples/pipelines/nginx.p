# nginx "combined" access log -> typed fields, request time, method as a tag.
grok(_, "%{IPORHOST:client_ip} %{NOTSPACE:http_ident} %{NOTSPACE:http_auth} \\[%{HTTPDATE:time}\\] \"%{DATA:http_method} %{GREEDYDATA:http_url} HTTP/%{NUMBER:http_version}\" %{INT:status_code:int} %{INT:bytes:int} \"%{DATA:referrer}\" \"%{DATA:agent}\"")

if status_code >= 500 {
  add_key(status, "error")
} elif status_code >= 400 {
  add_key(status, "warning")
} else {
  add_key(status, "info")
}

default_time(time)
set_tag(http_method)
