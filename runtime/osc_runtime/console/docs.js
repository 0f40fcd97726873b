// /docs: start Swagger UI on this runtime's OpenAPI schema (served beside it, no CDN).
"use strict";

const target = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: target.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // no call to the public validator: the page talks to this runtime only
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
