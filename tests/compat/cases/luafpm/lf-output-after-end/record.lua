-- what earlier requests' output calls returned (module state lives on)
return {}
