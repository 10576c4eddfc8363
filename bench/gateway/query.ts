/**
 * The federation benchmark's deep `TestQuery`, written with fragments as the classic benchmark
 * does. It touches all four subgraphs, @requires (shippingEstimate) and @provides (author.username),
 * and nests entity fetches several levels deep, so it exercises query planning, entity batching and
 * response merging rather than plain proxying.
 */
export const TEST_QUERY = /* GraphQL */ `
  fragment User on User {
    id
    username
    name
  }

  fragment Review on Review {
    id
    body
  }

  fragment Product on Product {
    inStock
    name
    price
    shippingEstimate
    upc
    weight
  }

  query TestQuery {
    users {
      ...User
      reviews {
        ...Review
        product {
          ...Product
          reviews {
            ...Review
            author {
              ...User
              reviews {
                ...Review
                product {
                  ...Product
                }
              }
            }
          }
        }
      }
    }
    topProducts {
      ...Product
      reviews {
        ...Review
        author {
          ...User
          reviews {
            ...Review
            product {
              ...Product
            }
          }
        }
      }
    }
  }
`;

/** The exact HTTP request body every gateway receives. */
export const TEST_REQUEST_BODY = JSON.stringify({ query: TEST_QUERY, operationName: 'TestQuery' });
